// The typed API clients, one per service, generated from the services' OpenAPI documents
// (src/api/schema/*.ts, written by `npm run build`). Every call goes to the workbench's own
// /api/<service>/... (the BFF adds the user's token); unsafe calls carry the CSRF token.
import createClient, { type Middleware } from 'openapi-fetch'
import type { paths as AlertingPaths } from './schema/alerting'
import type { paths as AllocationPaths } from './schema/allocation'
import type { paths as CreditPaths } from './schema/credit'
import type { paths as IntakePaths } from './schema/intake'
import type { paths as PublicationPaths } from './schema/publication'
import type { paths as ReviewPaths } from './schema/review'
import type { paths as TenancyPaths } from './schema/tenancy'
import type { paths as VerificationPaths } from './schema/verification'
import { csrfToken, sessionExpired } from '@/session'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

const workbench: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method)) request.headers.set('X-CSRF-Token', csrfToken())
    return request
  },
  onResponse({ response }) {
    if (response.status === 401) sessionExpired()
    return response
  },
}

function client<Paths extends {}>(service: string) {
  const c = createClient<Paths>({ baseUrl: `/api/${service}`, credentials: 'same-origin' })
  c.use(workbench)
  return c
}

export const intake = client<IntakePaths>('intake')
export const review = client<ReviewPaths>('review')
export const verification = client<VerificationPaths>('verification')
export const alerting = client<AlertingPaths>('alerting')
export const publication = client<PublicationPaths>('publication')
export const credit = client<CreditPaths>('credit')
export const allocation = client<AllocationPaths>('allocation')
export const tenancy = client<TenancyPaths>('tenancy')

/** An RFC 9457 problem as the services answer it, with its field messages by field path. */
export class ApiProblem extends Error {
  readonly status: number
  readonly title: string
  readonly detail: string
  readonly field?: string
  readonly fields: Record<string, string>
  readonly body: Record<string, unknown>

  constructor(status: number, body: Record<string, unknown>) {
    const title = typeof body.title === 'string' ? body.title : '请求失败'
    const detail = typeof body.detail === 'string' ? body.detail : title
    super(detail)
    this.status = status
    this.title = title
    this.detail = detail
    this.body = body
    this.field = typeof body.field === 'string' ? body.field : undefined
    const fields: Record<string, string> = {}
    if (Array.isArray(body.errors)) {
      for (const e of body.errors as Array<{ field?: unknown; detail?: unknown }>) {
        if (typeof e.field === 'string' && typeof e.detail === 'string' && !(e.field in fields)) {
          fields[e.field] = e.detail
        }
      }
    }
    if (this.field && !(this.field in fields)) fields[this.field] = detail
    this.fields = fields
  }
}

/** The data of an openapi-fetch result, or an ApiProblem thrown with the service's message. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call
  if (!response.ok) {
    const body = error && typeof error === 'object' ? (error as Record<string, unknown>) : {}
    throw new ApiProblem(response.status, body)
  }
  return data as T
}

/** A new Idempotency-Key: a retried click then changes nothing twice. */
export function idempotencyKey(): string {
  return crypto.randomUUID()
}
