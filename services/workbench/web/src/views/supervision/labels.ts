// Texts of the supervision screens: ticket steps, who holds them, colours, causes.
export const COLOUR: Record<string, string> = { red: '红灯', yellow: '黄灯' }

// The red ticket's ladder (Xiamen art. 11): handled the same day, then written reports up.
export const TICKET_STEP: Record<string, string> = {
  handling: '待办理（当日办结）',
  report_district: '待向区级书面报告',
  report_city_centre: '待向市中心书面报告（2个工作日）',
  report_city_office: '待向市保障办报告（1个工作日）',
  report_province: '待向省级报告',
  confirmation: '待督察确认预警消失',
  closed: '已关闭',
}

export const ESCALATED_TO: Record<string, string> = {
  district: '区级',
  city_centre: '市中心',
  city_office: '市保障办',
  province: '省级',
}

export const CAUSE_KIND: Record<string, string> = { human: '人为因素', system: '系统因素' }

export const TICKET_ACTION: Record<string, string> = {
  opened: '生成督办单',
  handled: '办理',
  reported: '书面报告',
  escalated: '升级督办',
  confirmed: '确认关闭',
  reminded: '临期提醒',
}

export const STAGE: Record<string, string> = {
  acceptance: '申请受理',
  verification: '部门协查',
  street_initial: '街道初审',
  district_review: '区级审核',
  city_confirmation: '市级复核认定',
  publicity: '公示',
}
