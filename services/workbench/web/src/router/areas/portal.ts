// 市民服务: the citizen's own pages (the reference portal): apply online in steps with the draft
// kept on the server, upload materials, follow progress and the waiting position, file an
// objection to a publicity notice or a complaint.
import type { AreaRoutes } from '../types'

const CITIZEN = ['applicant']

export const routes: AreaRoutes = [
  {
    path: 'portal/apply',
    name: 'portal-apply',
    component: () => import('@/views/portal/ApplyOnline.vue'),
    meta: { title: '网上申请', menu: '市民服务', roles: CITIZEN, order: 1 },
  },
  {
    path: 'portal/applications',
    name: 'portal-applications',
    component: () => import('@/views/portal/MyApplications.vue'),
    meta: { title: '我的申请', menu: '市民服务', roles: CITIZEN, order: 2 },
  },
  {
    path: 'portal/applications/:id',
    name: 'portal-application',
    component: () => import('@/views/portal/MyApplication.vue'),
    meta: { title: '申请进度', roles: CITIZEN },
  },
  {
    path: 'portal/objection',
    name: 'portal-objection',
    component: () => import('@/views/portal/ObjectionForm.vue'),
    meta: { title: '公示异议', menu: '市民服务', roles: CITIZEN, order: 3 },
  },
  {
    path: 'portal/complaint',
    name: 'portal-complaint',
    component: () => import('@/views/portal/ComplaintForm.vue'),
    meta: { title: '投诉举报', menu: '市民服务', roles: CITIZEN, order: 4 },
  },
]
