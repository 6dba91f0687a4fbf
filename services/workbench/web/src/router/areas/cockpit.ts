// 驾驶舱: the city's lights and deadlines, drilled down from region to the ticket.
import type { AreaRoutes } from '../types'

export const routes: AreaRoutes = [
  {
    path: 'cockpit',
    name: 'cockpit',
    component: () => import('@/views/cockpit/CockpitView.vue'),
    meta: { title: '监督驾驶舱', menu: '驾驶舱', roles: ['supervisor', 'discipline_inspector', 'admin', 'city_leader'], order: 1 },
  },
]
