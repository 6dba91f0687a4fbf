// One material's file, uploaded as the raw body of intake's upload endpoint (the window's and
// the citizen's application screens); the same file again is the same upload.
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
