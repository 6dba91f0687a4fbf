// A paginated list as the screens show one: the page's rows, the total, loading and the
// service's message when it fails; `load(p)` fetches page p with the list's own filters.
import { type Ref, ref } from 'vue'

export function usePagedList<T>(
  fetchPage: (limit: number, offset: number) => Promise<{ items: T[]; total: number }>,
  pageSize = 20,
) {
  const rows = ref([]) as Ref<T[]>
  const total = ref(0)
  const page = ref(1)
  const loading = ref(false)
  const failure = ref('')

  async function load(p = 1) {
    loading.value = true
    failure.value = ''
    try {
      const data = await fetchPage(pageSize, (p - 1) * pageSize)
      rows.value = data.items
      total.value = data.total
      page.value = p
    } catch (e) {
      failure.value = (e as Error).message
    } finally {
      loading.value = false
    }
  }

  return { rows, total, page, pageSize, loading, failure, load }
}
