// Eligibility reasons as verification writes them (one Chinese sentence per criterion, e.g.
// "人均月收入：核实值1600.00元，上限7000元，符合（来源：国家税务总局厦门市税务局）。"), split
// into rule, verified value, threshold, conclusion and department for the reviewer's table.
// A sentence of another shape (the parameters version, an unverifiable criterion) keeps its
// whole text in the rule column.

export interface Reason {
  rule: string
  verified: string
  threshold: string
  conclusion: string
  department: string
  text: string
}

const CHECKED = /^(.+?)：核实值(.+?)，(?:超过)?上限(.+?)，(符合|不符合)（来源：(.+?)）。?$/
const STATED = /^(.+?)：(.+?)，(符合|不符合|[^，]*需人工审核)(?:（来源：(.+?)）)?。?$/

export function parseReason(text: string): Reason {
  const checked = CHECKED.exec(text)
  if (checked) {
    const [, rule, verified, threshold, conclusion, department] = checked
    return { rule, verified, threshold, conclusion, department, text }
  }
  const stated = STATED.exec(text)
  if (stated) {
    const [, rule, verified, conclusion, department] = stated
    return { rule, verified, threshold: '', conclusion, department: department ?? '', text }
  }
  return { rule: text, verified: '', threshold: '', conclusion: '', department: '', text }
}
