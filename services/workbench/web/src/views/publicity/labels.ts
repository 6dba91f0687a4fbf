// Publication's codes as staff read them.
export const NOTICE_KIND: Record<string, string> = {
  qualification: '资格审核结果公示',
  acceptance: '受理情况公告',
  objection_conclusion: '异议核查结论公告',
  lottery_shortlist: '摇号入围名单公示',
  allocation: '配租结果公示',
  exit: '退出公告',
}

// The kinds a clerk publishes here: publication gathers their entries itself. The others list
// the applications of a lottery round, an allocation or an exit, and are published from there.
export const GATHERED_KINDS = ['qualification', 'acceptance', 'objection_conclusion']

export const OBJECTION_STATUS: Record<string, string> = { pending: '待核查', concluded: '已办结' }
export const OUTCOME: Record<string, string> = { sustained: '异议成立', dismissed: '异议不成立' }
