// The side menu, derived from the areas' routes (meta.menu, meta.roles, meta.order).
import { areaRoutes } from '@/router'
import { roleMatches } from '@/session'

export interface MenuGroup {
  name: string
  items: Array<{ path: string; title: string; order: number }>
}

// Groups in the order staff meet them in the process; unknown groups follow, by name.
const GROUP_ORDER = ['窗口受理', '审核审批', '部门协查', '监督预警', '驾驶舱', '信用管理', '配租管理', '租赁管理', '市民服务']

export function buildMenu(roles: string[]): MenuGroup[] {
  const groups = new Map<string, MenuGroup>()
  for (const r of areaRoutes) {
    const meta = r.meta
    if (!meta?.menu || !meta.title) continue
    if (meta.roles && !roleMatches(roles, meta.roles)) continue
    const group = groups.get(meta.menu) ?? { name: meta.menu, items: [] }
    group.items.push({ path: '/' + r.path.replace(/^\//, ''), title: meta.title, order: meta.order ?? 100 })
    groups.set(meta.menu, group)
  }
  const rank = (n: string) => (GROUP_ORDER.includes(n) ? GROUP_ORDER.indexOf(n) : GROUP_ORDER.length)
  return [...groups.values()]
    .map((g) => ({ ...g, items: g.items.sort((a, b) => a.order - b.order) }))
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name))
}
