// Chinese names of the services' codes that the APIs answer without a name.
export const APPLICATION_STATUS: Record<string, string> = {
  submitted: '已提交，待受理',
  accepted: '已受理',
  supplement_requested: '待补件',
  withdrawn: '已撤回',
  rejected: '不予受理',
}

export const CHANNEL: Record<string, string> = { online: '网上申请', window: '窗口申请', mobile: '移动端' }

export const RELATIONSHIP: Record<string, string> = {
  applicant: '申请人本人',
  spouse: '配偶',
  child: '子女',
  parent: '父母',
  other: '其他',
}

export const MARITAL_STATUS: Record<string, string> = {
  unmarried: '未婚',
  married: '已婚',
  divorced: '离异',
  widowed: '丧偶',
}

export const TENURE: Record<string, string> = {
  none: '无住房',
  owned: '自有住房',
  private_rental: '租赁私房',
  public_rental: '租住公房',
  borrowed: '借住',
  dormitory: '单位宿舍',
}

export const SIGNATURE_ROLE: Record<string, string> = { handler: '经办人', reviewer: '复核人', leader: '领导' }
export const DECISION: Record<string, string> = { approve: '同意', reject: '不同意', return: '退回' }
export const LEVEL: Record<string, string> = { street: '街道', district: '区级', city: '市级' }

export function label(map: Record<string, string>, code: string | null | undefined): string {
  if (!code) return ''
  return map[code] ?? code
}

export function dateTime(value: string | null | undefined): string {
  if (!value) return ''
  const d = new Date(value)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}
