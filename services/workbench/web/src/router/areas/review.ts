// 审核审批: reviewers and leaders at street, district and city level.
import { CASEWORK_READERS, REVIEW_ROLES } from '@/roles'
import type { AreaRoutes } from '../types'

const READERS = CASEWORK_READERS

export const routes: AreaRoutes = [
  {
    path: 'review/tasks',
    name: 'review-tasks',
    component: () => import('@/views/review/TaskList.vue'),
    meta: { title: '我的待办', menu: '审核审批', roles: REVIEW_ROLES, order: 1 },
  },
  {
    path: 'review/cases/:id',
    name: 'review-case',
    component: () => import('@/views/review/CaseView.vue'),
    meta: { title: '审核案件', roles: READERS },
  },
]
