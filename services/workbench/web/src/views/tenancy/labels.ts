// Chinese names of tenancy's codes (services/tenancy: tables.py, data/rules.yaml).
export const LEASE_STATUS: Record<string, string> = { active: '履约中', ended: '已终止' }

export const RENT_BAND: Record<string, string> = {
  subsistence: '低保/特困家庭',
  low_income: '低收入家庭',
  other: '其他承租家庭',
  market: '市场租金（梯度退出过渡期）',
}

export const ARREARS_STEP: Record<string, string> = { none: '无欠租', reminder: '短信提醒', notice: '催缴通知', recovery: '提前收回' }

export const PAYMENT_STATUS: Record<string, string> = { applied: '已入账', unmatched: '未匹配' }
export const CHANNEL: Record<string, string> = { withholding: '银行代扣', channel: '支付渠道' }

export const FINDING: Record<string, string> = {
  occupied_normally: '正常自住',
  sublet: '转租',
  lent: '出借',
  vacant: '闲置',
  damaged: '损坏房屋',
  unauthorised_alteration: '擅自装修改建',
  rereview_not_cooperated: '不配合年度复核',
}

export const VIOLATION_STATUS: Record<string, string> = { open: '整改中', overdue: '逾期未整改', rectified: '已整改', escalated: '已转提前收回' }

export const EXIT_KIND: Record<string, string> = { early_recovery: '提前收回', voluntary: '自愿退出' }
export const EXIT_STATUS: Record<string, string> = {
  notice_issued: '已发收回通知',
  inspected: '已验房',
  vacated: '已腾退',
  court_referred: '已申请法院强制执行',
}

export const REREVIEW_STATUS: Record<string, string> = {
  requested: '复核中',
  continued: '继续保障',
  band_changed: '调整租金档',
  graded_exit: '梯度退出（过渡期）',
  exit_noticed: '退出',
  officer_decides: '待人工认定',
  not_cooperated: '不配合复核',
}

// The contract's early-recovery clauses (services/allocation/data/recovery_clauses.yaml).
export const CLAUSE: Record<string, string> = {
  false_application: '以隐瞒、虚报等欺骗手段取得公共租赁住房',
  sublet: '转借、转租或者擅自调换',
  changed_use: '改变所承租住房用途',
  damaged_structure: '破坏或者擅自装修，拒不恢复原状',
  illegal_activity: '在住房内从事违法活动',
  vacant_six_months: '无正当理由连续6个月以上闲置',
  rent_arrears_two_months: '累计2个月以上未缴纳租金',
  acquired_other_housing: '在本市购买、受赠、继承或者租赁其他住房',
  income_exceeded: '家庭收入、财产超过规定标准',
  failed_annual_review: '无正当理由不按规定参加年度审核',
  unpaid_utilities: '累计6个月以上未缴纳物业服务费、水电燃气费',
  nuisance: '严重影响相邻住户正常生活，经劝阻拒不改正',
  household_left_city: '家庭成员户籍全部迁离本市',
  lease_expired_no_renewal: '租赁期满未申请续租或者申请续租未获批准',
}

/** Today in the browser's calendar, as YYYY-MM-DD. */
export function today(): string {
  const d = new Date()
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}
