// What a form shows of a refused call: the service's message, and its field messages by path.
import { ref } from 'vue'
import { ApiProblem } from '@/api/client'

export function useProblem(fallback = '操作失败，请检查网络后重试。') {
  const failure = ref('')
  const fields = ref<Record<string, string>>({})

  function clear() {
    failure.value = ''
    fields.value = {}
  }

  function show(e: unknown) {
    if (e instanceof ApiProblem) {
      failure.value = e.detail
      fields.value = e.fields
    } else {
      failure.value = fallback
      fields.value = {}
    }
  }

  function field(path: string): string {
    return fields.value[path] ?? ''
  }

  return { failure, fields, clear, show, field }
}
