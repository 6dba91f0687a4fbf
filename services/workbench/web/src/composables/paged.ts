// A paged list screen: the rows of one page of a service's `Page` answer, its total, and the
// loading and error state the table shows.
import { ref, type Ref } from 'vue'

export interface PageOf<T> {
  items: T[]
  total: number
}

export function usePaged<T>(fetchPage: (limit: number, offset: number) => Promise<PageOf<T>>, pageSize = 50) {
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
