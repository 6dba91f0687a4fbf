// Chinese names of allocation's codes (services/allocation: tables.py, data/rules.yaml).
export const UNIT_STATUS: Record<string, string> = {
  vacant: '空置',
  reserved: '已选定',
  let: '已出租',
  under_repair: '维修中',
  recovered: '已收回',
}

// The moves an officer may make by hand (services/allocation/domain.py EDITABLE_MOVES).
export const UNIT_MOVES: Record<string, string[]> = {
  vacant: ['under_repair'],
  under_repair: ['vacant'],
  recovered: ['vacant', 'under_repair'],
  reserved: [],
  let: [],
}

export const ROUND_STATUS: Record<string, string> = {
  opened: '已开启，待审批',
  approved: '已审批，待冻结名单',
  frozen: '入围名单已冻结',
  committed: '承诺值已公布，待摇号',
  drawn: '已摇号',
}

export const ENTRY_STATUS: Record<string, string> = {
  waiting: '轮候中',
  suspended: '暂停轮候',
  allocated: '已配租',
  removed: '已退出轮候',
}

export const PRIORITY_GROUP: Record<string, string> = {
  subsistence: '低保/特困家庭',
  disability: '残疾人家庭',
  veteran_martyr: '优抚对象及烈士家属',
  model_worker: '省部级以上劳动模范',
  elderly: '老年人家庭（60周岁以上）',
  general: '一般轮候家庭',
}

export const OUTCOME: Record<string, string> = { selected: '已选房', declined: '放弃选房', no_show: '未到场', subsidy: '领取租赁补贴' }
