// A button's call on a form: busy while it runs, the service's refusal shown through the
// form's useProblem, on success the message it returns and the screen reloaded.
import { ref } from 'vue'
import type { useProblem } from './problem'

export function useAction(problem: ReturnType<typeof useProblem>, reload: () => Promise<unknown> = async () => undefined) {
  const busy = ref(false)
  const done = ref('')

  async function run(call: () => Promise<string>) {
    problem.clear()
    done.value = ''
    busy.value = true
    try {
      const message = await call()
      await reload()
      done.value = message
    } catch (e) {
      problem.show(e)
    } finally {
      busy.value = false
    }
  }

  return { busy, done, run }
}
