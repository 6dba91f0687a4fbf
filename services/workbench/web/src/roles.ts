// Role names as staff read them (the token's role codes are shared/auth's).
const ROLE_NAMES: Record<string, string> = {
  applicant: '申请人',
  portal: '网上办事大厅',
  street_clerk: '街道经办人',
  street_reviewer: '街道复核人',
  district_clerk: '区级经办人',
  district_reviewer: '区级复核人',
  city_clerk: '市级经办人',
  city_reviewer: '市级复核人',
  city_leader: '市级领导',
  supervisor: '监督员',
  credit_officer: '信用管理员',
  discipline_inspector: '纪检监察',
  housing_officer: '配租经办人',
  notary: '公证员',
  data_steward: '数据管理员',
  admin: '系统管理员',
}

export function roleName(role: string): string {
  if (role.startsWith('department:')) return '部门协查'
  return ROLE_NAMES[role] ?? role
}

export const REVIEW_ROLES = [
  'street_clerk',
  'street_reviewer',
  'district_clerk',
  'district_reviewer',
  'city_clerk',
  'city_reviewer',
  'city_leader',
]

// Who may read casework (cases, notices, objections) without taking part in it.
export const CASEWORK_READERS = [...REVIEW_ROLES, 'supervisor', 'discipline_inspector', 'admin']

export function departmentsOf(roles: string[]): string[] {
  return roles.filter((r) => r.startsWith('department:')).map((r) => r.slice('department:'.length))
}
