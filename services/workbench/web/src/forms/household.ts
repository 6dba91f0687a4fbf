// The household form shared by the window's entry (views/window/NewApplication.vue) and the
// citizen's online application (views/portal/ApplyOnline.vue): the member and housing fields,
// their checks (src/validation.ts, as the API makes them) and the body POST /applications takes.
import type { FormRules } from 'element-plus'
import type { components } from '@/api/schema/intake'
import { session } from '@/session'
import { moneyRule, mobileProblem, residentIdProblem, ruleOf } from '@/validation'

export type ApplicationIn = components['schemas']['ApplicationIn']
export type MemberIn = components['schemas']['MemberIn']
export type Tenure = ApplicationIn['housing']['tenure']

// The version of the pledge text handed out and shown online (守信承诺书), recorded with the
// signature.
export const PLEDGE_VERSION = '2026.1'

export interface MemberForm {
  key: number
  name: string
  resident_id: string
  relationship: MemberIn['relationship']
  marital_status: MemberIn['marital_status']
  hukou_division: string
  residence_permit: boolean
  employer: string
  declared_monthly_income: string
  declared_financial_assets: string
  declared_vehicle_count: number
  declared_vehicle_value: string
}

export interface HousingForm {
  address: string
  area_m2: string
  tenure: Tenure
}

let key = 0

export function newMember(relationship: MemberIn['relationship'], values: Partial<MemberForm> = {}): MemberForm {
  return {
    name: '',
    resident_id: '',
    relationship,
    marital_status: 'unmarried',
    hukou_division: (session.me?.org ?? '').slice(0, 6),
    residence_permit: false,
    employer: '',
    declared_monthly_income: '0',
    declared_financial_assets: '0',
    declared_vehicle_count: 0,
    declared_vehicle_value: '0',
    ...values,
    key: key++,
  }
}

export function newHousing(): HousingForm {
  return { address: '', area_m2: '0', tenure: 'none' }
}

/** The members as POST /applications takes them (no form key; an empty employer is none). */
export function membersIn(members: MemberForm[]): MemberIn[] {
  return members.map(({ key: _key, employer, ...m }) => ({ ...m, employer: employer || null }))
}

/** The body of POST /applications from the form, the pledge signed now. */
export function applicationIn(
  form: { category: string; street: string; mobile: string; members: MemberForm[]; housing: HousingForm },
  channel: ApplicationIn['channel'],
): ApplicationIn {
  return {
    category: form.category,
    street: form.street,
    channel,
    mobile: form.mobile,
    members: membersIn(form.members),
    housing: { ...form.housing },
    pledge: { version: PLEDGE_VERSION, signed_at: new Date().toISOString() },
  }
}

export const idRule = ruleOf(residentIdProblem, '请填写身份证号码')
export const mobileRule = ruleOf(mobileProblem, '请填写联系手机')
export const incomeRule = moneyRule()
export const divisionRule = {
  trigger: 'blur',
  validator: (_r: unknown, v: string, cb: (e?: Error) => void) =>
    /^[0-9]{6}([0-9]{3})?$/.test(v ?? '') ? cb() : cb(new Error('请填写6位或9位行政区划代码')),
}
export const areaRule = {
  trigger: 'blur',
  validator: (_r: unknown, v: string, cb: (e?: Error) => void) =>
    /^\d{1,8}(\.\d{1,2})?$/.test(String(v ?? '').trim()) && Number(v) <= 10000
      ? cb()
      : cb(new Error('请填写0至10000之间的面积，最多两位小数')),
}
export const pledgeRule = {
  trigger: 'change',
  validator: (_r: unknown, v: boolean, cb: (e?: Error) => void) =>
    v ? cb() : cb(new Error('未签署守信承诺书，不能提交申请')),
}

/** The rules of the application's own fields (the members' and housing's are on their items). */
export const applicationRules: FormRules = {
  category: [{ required: true, message: '请选择申请类别', trigger: 'change' }],
  street: [{ required: true, message: '请选择受理街道', trigger: 'change' }],
  mobile: [mobileRule],
  pledge: [pledgeRule],
}
