// 监督预警: supervisors and discipline inspectors (read-only) see the lights of their unit and
// every unit below it; tickets are handled by the responsible unit and reported up the ladder.
import type { AreaRoutes } from '../types'

const WATCHERS = ['supervisor', 'discipline_inspector', 'admin']
const TICKET_READERS = [
  ...WATCHERS,
  'street_clerk',
  'street_reviewer',
  'district_clerk',
  'district_reviewer',
  'city_clerk',
  'city_reviewer',
  'city_leader',
]

export const routes: AreaRoutes = [
  {
    path: 'supervision/alerts',
    name: 'supervision-alerts',
    component: () => import('@/views/supervision/AlertBoard.vue'),
    meta: { title: '预警监控', menu: '监督预警', roles: WATCHERS, order: 1 },
  },
  {
    path: 'supervision/tickets',
    name: 'supervision-tickets',
    component: () => import('@/views/supervision/TicketList.vue'),
    meta: { title: '督办单', menu: '监督预警', roles: TICKET_READERS, order: 2 },
  },
  {
    path: 'supervision/tickets/:id',
    name: 'supervision-ticket',
    component: () => import('@/views/supervision/TicketView.vue'),
    meta: { title: '督办单详情', roles: TICKET_READERS },
  },
]
