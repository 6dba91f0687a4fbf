// The checks the services make on a field, made again in the form so that a clerk sees the
// same message at the field before sending (shared/pii.py: resident ID and mobile number).
// The services stay the authority: their problem+json field messages are shown the same way.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const CHECK_CHARS = '10X98765432'

/** null for a valid 18-character resident ID, else the service's message. */
export function residentIdProblem(value: string): string | null {
  const id = value.trim().toUpperCase()
  if (id.length !== 18) {
    if (id.length === 15 && /^[0-9]+$/.test(id)) return '身份证号码为旧版15位号码，请使用18位号码'
    return '身份证号码长度应为18位'
  }
  if (!/^[0-9]{17}[0-9X]$/.test(id)) return '身份证号码含非法字符'
  const y = Number(id.slice(6, 10))
  const m = Number(id.slice(10, 12))
  const d = Number(id.slice(12, 14))
  const born = new Date(y, m - 1, d)
  if (born.getFullYear() !== y || born.getMonth() !== m - 1 || born.getDate() !== d || y < 1900 || born > new Date()) {
    return '身份证号码出生日期无效'
  }
  const total = WEIGHTS.reduce((sum, w, i) => sum + w * Number(id[i]), 0)
  if (CHECK_CHARS[total % 11] !== id[17]) return '身份证号码校验位错误'
  return null
}

/** null for a mainland mobile number, else the service's message. */
export function mobileProblem(value: string): string | null {
  let digits = value.replace(/[\s-]/g, '')
  if (digits.startsWith('+86')) digits = digits.slice(3)
  else if (digits.startsWith('86') && digits.length === 13) digits = digits.slice(2)
  if (digits && !/^[0-9]+$/.test(digits)) return '手机号码含非法字符'
  if (digits.length !== 11) return '手机号码长度应为11位'
  if (!/^1[3-9][0-9]{9}$/.test(digits)) return '手机号码号段无效'
  return null
}

/** An Element Plus form rule from one of the checks above. */
export function ruleOf(check: (v: string) => string | null, required = '请填写此项') {
  return {
    trigger: 'blur',
    validator: (_rule: unknown, value: string, callback: (e?: Error) => void) => {
      if (!value || !String(value).trim()) return callback(new Error(required))
      const problem = check(String(value))
      return problem ? callback(new Error(problem)) : callback()
    },
  }
}

export function required(message = '请填写此项') {
  return { required: true, message, trigger: 'blur' }
}

/** Money as the API takes it: at most 14 digits, two decimals, not negative. */
export function moneyRule(message = '请填写金额（元），最多两位小数') {
  return {
    trigger: 'blur',
    validator: (_rule: unknown, value: string, callback: (e?: Error) => void) =>
      /^\d{1,12}(\.\d{1,2})?$/.test(String(value ?? '').trim()) ? callback() : callback(new Error(message)),
  }
}
