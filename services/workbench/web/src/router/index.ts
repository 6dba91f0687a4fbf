// The router: the sign-in page, and the layout with every area's routes as children. An area
// (src/router/areas/<area>.ts) is picked up by the glob below: adding one needs no edit here.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { hasRole, loadSession, session } from '@/session'
import type { AreaRoutes } from './types'

const areas = import.meta.glob<{ routes: AreaRoutes }>('./areas/*.ts', { eager: true })

export const areaRoutes: RouteRecordRaw[] = Object.keys(areas)
  .sort()
  .flatMap((file) => areas[file].routes)

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    {
      path: '/login',
      name: 'login',
      component: () => import('@/views/auth/LoginView.vue'),
      meta: { title: '登录', public: true },
    },
    {
      path: '/',
      component: () => import('@/layout/AppLayout.vue'),
      children: [
        { path: '', name: 'home', component: () => import('@/views/home/HomeView.vue'), meta: { title: '首页' } },
        ...areaRoutes,
        {
          path: ':rest(.*)*',
          name: 'not-found',
          component: () => import('@/views/home/NotFoundView.vue'),
          meta: { title: '页面不存在' },
        },
      ],
    },
  ],
})

router.beforeEach(async (to) => {
  if (!session.loaded) await loadSession()
  if (to.meta.public) return true
  if (!session.me) return { name: 'login', query: { return_to: to.fullPath } }
  if (to.meta.roles && !hasRole(...to.meta.roles)) return { name: 'home', query: { denied: to.path } }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} - 公租房业务工作台` : '公租房业务工作台'
})
