// 窗口受理: the street window clerk's screens.
import type { AreaRoutes } from '../types'

const CLERK = ['street_clerk']

export const routes: AreaRoutes = [
  {
    path: 'window/applications',
    name: 'window-applications',
    component: () => import('@/views/window/ApplicationList.vue'),
    meta: { title: '本街道申请', menu: '窗口受理', roles: [...CLERK, 'street_reviewer'], order: 2 },
  },
  {
    path: 'window/new',
    name: 'window-new',
    component: () => import('@/views/window/NewApplication.vue'),
    meta: { title: '窗口申请录入', menu: '窗口受理', roles: CLERK, order: 1 },
  },
  {
    path: 'window/applications/:id',
    name: 'window-application',
    component: () => import('@/views/window/ApplicationDetail.vue'),
    meta: { title: '申请受理', roles: [...CLERK, 'street_reviewer'] },
  },
  {
    path: 'window/applications/:id/receipt',
    name: 'window-receipt',
    component: () => import('@/views/window/ReceiptPrint.vue'),
    meta: { title: '受理回执', roles: CLERK },
  },
]
