// 公示公告: clerks publish the notices the process needs (qualification results for at least
// seven days, acceptance figures, objection conclusions), investigators conclude objections,
// the city leader may close a notice early (with a reason; it lights R7 for supervisors).
import { CASEWORK_READERS } from '@/roles'
import type { AreaRoutes } from '../types'

export const routes: AreaRoutes = [
  {
    path: 'publicity/notices',
    name: 'publicity-notices',
    component: () => import('@/views/publicity/NoticeList.vue'),
    meta: { title: '公示公告', menu: '公示与异议', roles: CASEWORK_READERS, order: 1 },
  },
  {
    path: 'publicity/objections',
    name: 'publicity-objections',
    component: () => import('@/views/publicity/ObjectionList.vue'),
    meta: { title: '异议核查', menu: '公示与异议', roles: CASEWORK_READERS, order: 2 },
  },
]
