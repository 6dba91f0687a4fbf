// The city's configuration as the screens need it (unit, material, category and department
// names), from the BFF's /api/workbench/city: read from the same city file the services use.
import { reactive } from 'vue'

export interface NamedCode {
  code: string
  name: string
}
export interface CityCategory extends NamedCode {
  required_materials: string[]
}
export interface CityInfo {
  code: string
  name: string
  units: Record<string, string>
  districts: Array<NamedCode & { streets: NamedCode[] }>
  materials: NamedCode[]
  categories: CityCategory[]
  departments: NamedCode[]
  max_upload_bytes: number
  allowed_content_types: string[]
}

export const city = reactive<{ info: CityInfo | null }>({ info: null })

export async function loadCity(): Promise<CityInfo> {
  if (city.info) return city.info
  const answer = await fetch('/api/workbench/city', { credentials: 'same-origin' })
  if (!answer.ok) throw new Error('无法读取城市配置')
  city.info = (await answer.json()) as CityInfo
  return city.info
}

export function unitName(code: string | null | undefined): string {
  if (!code) return ''
  return city.info?.units[code] ?? code
}

export function materialName(code: string): string {
  return city.info?.materials.find((m) => m.code === code)?.name ?? code
}

export function categoryName(code: string): string {
  return city.info?.categories.find((c) => c.code === code)?.name ?? code
}

export function departmentName(code: string): string {
  return city.info?.departments.find((d) => d.code === code)?.name ?? code
}
