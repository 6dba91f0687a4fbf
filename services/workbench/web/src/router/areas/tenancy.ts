// 租赁管理: housing officers keep the leases after the contract — rent and its bands, the
// yearly re-review, home visits, violations and exits; leaders and supervisors read them.
import type { AreaRoutes } from '../types'

// Who may read tenancy's staff endpoints (services/tenancy/api.py Reader); officers write.
const READERS = ['housing_officer', 'city_leader', 'supervisor', 'discipline_inspector']

export const routes: AreaRoutes = [
  {
    path: 'tenancy/leases',
    name: 'tenancy-leases',
    component: () => import('@/views/tenancy/LeaseList.vue'),
    meta: { title: '租约', menu: '租赁管理', roles: READERS, order: 1 },
  },
  {
    path: 'tenancy/leases/:id',
    name: 'tenancy-lease',
    component: () => import('@/views/tenancy/LeaseDetail.vue'),
    meta: { title: '租约详情', roles: READERS },
  },
  {
    path: 'tenancy/rereviews',
    name: 'tenancy-rereviews',
    component: () => import('@/views/tenancy/Rereviews.vue'),
    meta: { title: '年度复核', menu: '租赁管理', roles: READERS, order: 2 },
  },
  {
    path: 'tenancy/visits',
    name: 'tenancy-visits',
    component: () => import('@/views/tenancy/VisitsDue.vue'),
    meta: { title: '入户巡查', menu: '租赁管理', roles: READERS, order: 3 },
  },
  {
    path: 'tenancy/violations',
    name: 'tenancy-violations',
    component: () => import('@/views/tenancy/Violations.vue'),
    meta: { title: '违规', menu: '租赁管理', roles: READERS, order: 4 },
  },
  {
    path: 'tenancy/exits',
    name: 'tenancy-exits',
    component: () => import('@/views/tenancy/Exits.vue'),
    meta: { title: '退出', menu: '租赁管理', roles: READERS, order: 5 },
  },
  {
    path: 'tenancy/statistics',
    name: 'tenancy-statistics',
    component: () => import('@/views/tenancy/Statistics.vue'),
    meta: { title: '统计', menu: '租赁管理', roles: READERS, order: 6 },
  },
]
