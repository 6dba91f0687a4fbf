import type { RouteRecordRaw } from 'vue-router'

declare module 'vue-router' {
  interface RouteMeta {
    /** The page title and menu text (Chinese). */
    title?: string
    /** Roles that see the menu entry and may open the page; none: every signed-in user. */
    roles?: string[]
    /** The menu group the entry sits in (受理, 审核, ...); no group: not in the menu. */
    menu?: string
    /** Order inside the menu (smaller first). */
    order?: number
    /** Reachable without signing in (the sign-in page). */
    public?: boolean
  }
}

/** What an area file under src/router/areas/ exports: its routes, children of the layout. */
export type AreaRoutes = RouteRecordRaw[]
