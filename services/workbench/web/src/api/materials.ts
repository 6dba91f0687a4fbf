// One material's file, uploaded as the raw body of intake's upload endpoint, from a screen's
// file input (the window's and the citizen's application screens); the same file again is the
// same upload.
import { ElMessage } from 'element-plus'
import type { Ref } from 'vue'
import { materialName } from '@/city'
import { idempotencyKey, intake, unwrap } from './client'

export function uploadMaterial(applicationId: string, code: string, file: File) {
  return unwrap(
    intake.POST('/applications/{application_id}/materials', {
      params: { path: { application_id: applicationId }, query: { material_type: code, file_name: file.name } },
      body: file as unknown as string,
      bodySerializer: (b: unknown) => b as BodyInit,
      headers: { 'Content-Type': file.type || 'application/octet-stream', 'Idempotency-Key': idempotencyKey() },
    }),
  )
}

/** The change handler of a material's file input: upload, say so, reload the screen; a
 * refusal goes to the screen's problem display (useProblem). */
export function materialUploader(
  applicationId: string,
  screen: { busy: Ref<boolean>; clear: () => void; show: (e: unknown) => void; reload: () => Promise<void> },
) {
  return async (code: string, event: Event) => {
    const input = event.target as HTMLInputElement
    const file = input.files?.[0]
    if (!file) return
    screen.clear()
    screen.busy.value = true
    try {
      await uploadMaterial(applicationId, code, file)
      ElMessage.success(`已上传：${materialName(code)}`)
      await screen.reload()
    } catch (e) {
      screen.show(e)
    } finally {
      screen.busy.value = false
      input.value = ''
    }
  }
}
