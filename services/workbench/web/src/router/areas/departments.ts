// 部门协查: staff of a department without a system of its own answer verification requests.
import type { AreaRoutes } from '../types'

export const routes: AreaRoutes = [
  {
    path: 'departments/requests',
    name: 'department-requests',
    component: () => import('@/views/departments/RequestList.vue'),
    // 'department:*': any department:<code> role (session.ts roleMatches).
    meta: { title: '待办协查请求', menu: '部门协查', roles: ['department:*'], order: 1 },
  },
  {
    path: 'departments/requests/:department/:requestId',
    name: 'department-answer',
    component: () => import('@/views/departments/AnswerForm.vue'),
    meta: { title: '协查反馈', roles: ['department:*'] },
  },
]
