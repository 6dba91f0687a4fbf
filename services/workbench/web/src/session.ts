// Who is signed in (from the BFF's /auth/me). The bearer token never reaches the browser: the
// session lives in an HttpOnly cookie, and this module only knows the user and the CSRF token.
import { reactive } from 'vue'

export interface Me {
  sub: string
  name: string
  roles: string[]
  org: string
  csrf: string
  expires_at: number
}

export const session = reactive<{ me: Me | null; loaded: boolean }>({ me: null, loaded: false })

export async function loadSession(): Promise<Me | null> {
  const answer = await fetch('/auth/me', { credentials: 'same-origin' })
  session.me = answer.ok ? ((await answer.json()) as Me) : null
  session.loaded = true
  return session.me
}

export function csrfToken(): string {
  // Before sign-in any non-empty value: the BFF then only checks that a script set the header.
  return session.me?.csrf ?? 'signin'
}

/** True when the user holds one of ``roles``; ``department:*`` stands for any department. */
export function hasRole(...roles: string[]): boolean {
  return !!session.me && roleMatches(session.me.roles, roles)
}

export function roleMatches(held: string[], wanted: string[]): boolean {
  return held.some((r) => wanted.includes(r) || (r.startsWith('department:') && wanted.includes('department:*')))
}

export function sessionExpired(): void {
  if (!session.me) return
  session.me = null
  const back = encodeURIComponent(location.pathname + location.search)
  location.assign(`/login?expired=1&return_to=${back}`)
}

export async function signOut(): Promise<void> {
  await fetch('/auth/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrfToken() },
  })
  session.me = null
}
