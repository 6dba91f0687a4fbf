// 配租管理: housing officers keep the stock and the waiting list, open rounds, hold the
// selection and sign the contracts; the city leader approves rounds, the notary draws.
import type { AreaRoutes } from '../types'

const OFFICER = ['housing_officer']
// Who may read allocation's staff endpoints (services/allocation/api.py Staff).
const STAFF = ['housing_officer', 'city_leader', 'notary']

export const routes: AreaRoutes = [
  {
    path: 'allocation/stock',
    name: 'allocation-stock',
    component: () => import('@/views/allocation/StockList.vue'),
    meta: { title: '房源', menu: '配租管理', roles: STAFF, order: 1 },
  },
  {
    path: 'allocation/waiting',
    name: 'allocation-waiting',
    component: () => import('@/views/allocation/WaitingEntry.vue'),
    meta: { title: '轮候', menu: '配租管理', roles: STAFF, order: 2 },
  },
  {
    path: 'allocation/rounds',
    name: 'allocation-rounds',
    component: () => import('@/views/allocation/RoundList.vue'),
    meta: { title: '配租批次', menu: '配租管理', roles: STAFF, order: 3 },
  },
  {
    path: 'allocation/rounds/:id',
    name: 'allocation-round',
    component: () => import('@/views/allocation/RoundDetail.vue'),
    meta: { title: '配租批次详情', roles: STAFF },
  },
  {
    path: 'allocation/selection',
    name: 'allocation-selection',
    component: () => import('@/views/allocation/Selection.vue'),
    meta: { title: '选房', menu: '配租管理', roles: OFFICER, order: 4 },
  },
  {
    path: 'allocation/contracts',
    name: 'allocation-contracts',
    component: () => import('@/views/allocation/Contracts.vue'),
    meta: { title: '合同', menu: '配租管理', roles: OFFICER, order: 5 },
  },
]
