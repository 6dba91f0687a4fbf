// 信用管理: credit officers keep the integrity file, walk the notice procedure and the bans.
import type { AreaRoutes } from '../types'

const OFFICERS = ['credit_officer', 'discipline_inspector', 'admin']

export const routes: AreaRoutes = [
  {
    path: 'credit/records',
    name: 'credit-records',
    component: () => import('@/views/credit/RecordList.vue'),
    meta: { title: '失信记录与禁入', menu: '信用管理', roles: OFFICERS, order: 1 },
  },
  {
    path: 'credit/blacklist',
    name: 'credit-blacklist',
    component: () => import('@/views/credit/Blacklist.vue'),
    meta: { title: '中介黑名单', menu: '信用管理', roles: OFFICERS, order: 2 },
  },
]
