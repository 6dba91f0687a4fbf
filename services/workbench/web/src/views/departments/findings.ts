// The finding kinds of the department answer contract (shared/events/catalogue.py: Finding),
// as form fields, and the kinds each department usually reports (any kind may be chosen).
import type { components } from '@/api/schema/verification'

export type AnswerIn = components['schemas']['AnswerIn']
export type Finding = NonNullable<AnswerIn['findings']>[number]
export type FindingKind = Finding['kind']

export interface FieldSpec {
  name: string
  label: string
  type: 'money' | 'area' | 'text' | 'date' | 'int' | 'bool' | 'select'
  options?: Record<string, string>
  optional?: boolean
}

export const KINDS: Record<FindingKind, { name: string; fields: FieldSpec[] }> = {
  property: {
    name: '房产',
    fields: [
      { name: 'area_m2', label: '建筑面积（平方米）', type: 'area' },
      { name: 'location', label: '坐落', type: 'text' },
    ],
  },
  vehicle: {
    name: '车辆',
    fields: [
      { name: 'plate_masked', label: '车牌号（中间遮挡）', type: 'text' },
      { name: 'value', label: '评估价值（元）', type: 'money' },
    ],
  },
  business: {
    name: '工商登记',
    fields: [
      { name: 'name', label: '企业名称', type: 'text' },
      { name: 'registered_capital', label: '注册资本（元）', type: 'money' },
    ],
  },
  income: {
    name: '收入',
    fields: [
      { name: 'monthly_amount', label: '月收入（元）', type: 'money' },
      { name: 'source', label: '收入来源', type: 'select', options: { wages: '工资薪金', labour_services: '劳务报酬', business: '经营所得', property: '财产性收入', other: '其他' } },
    ],
  },
  pension: {
    name: '养老金',
    fields: [
      { name: 'monthly_amount', label: '月领取额（元）', type: 'money' },
      { name: 'scheme', label: '险种', type: 'select', options: { enterprise: '企业职工', public_institution: '机关事业单位', resident: '城乡居民' } },
    ],
  },
  assistance: {
    name: '救助身份',
    fields: [
      { name: 'status', label: '救助类别', type: 'select', options: { minimum_living: '最低生活保障', extreme_poverty: '特困人员', low_income: '低收入家庭' } },
      { name: 'since', label: '认定日期', type: 'date', optional: true },
    ],
  },
  provident_fund: {
    name: '住房公积金',
    fields: [
      { name: 'monthly_deposit', label: '月缴存额（元）', type: 'money' },
      { name: 'employer', label: '缴存单位', type: 'text', optional: true },
    ],
  },
  vital: {
    name: '出生/死亡登记',
    fields: [
      { name: 'event', label: '事项', type: 'select', options: { birth: '出生', death: '死亡' } },
      { name: 'on', label: '日期', type: 'date' },
    ],
  },
  marriage: {
    name: '婚姻登记',
    fields: [
      { name: 'status', label: '婚姻状况', type: 'select', options: { unmarried: '未婚', married: '已婚', divorced: '离异', widowed: '丧偶' } },
      { name: 'since', label: '登记日期', type: 'date', optional: true },
    ],
  },
  hukou: {
    name: '户籍',
    fields: [
      { name: 'division', label: '户籍所在地区划代码', type: 'text' },
      { name: 'residence_permit', label: '持有本市居住证', type: 'bool' },
    ],
  },
  disability: { name: '残疾等级', fields: [{ name: 'grade', label: '残疾等级（1-4级）', type: 'int' }] },
  veteran: {
    name: '优抚对象',
    fields: [{ name: 'status', label: '类别', type: 'select', options: { veteran: '退役军人', martyr_family: '烈属', entitled_group: '其他优抚对象' } }],
  },
  financial_asset: {
    name: '金融资产',
    fields: [
      { name: 'asset_type', label: '资产类型', type: 'select', options: { deposit: '存款', wealth_management: '理财产品', securities: '证券' } },
      { name: 'institution', label: '金融机构', type: 'text' },
      { name: 'amount', label: '金额（元）', type: 'money' },
      { name: 'as_of', label: '截至日期', type: 'date' },
    ],
  },
  electricity: {
    name: '用电量',
    fields: [
      { name: 'average_monthly_kwh', label: '月均用电量（千瓦时）', type: 'area' },
      { name: 'months', label: '统计月数', type: 'int' },
    ],
  },
}

export const USUAL_KINDS: Record<string, FindingKind[]> = {
  public_security: ['hukou'],
  civil_affairs: ['marriage', 'assistance'],
  real_estate: ['property'],
  hr_social_security: ['income', 'pension'],
  market_supervision: ['business'],
  provident_fund: ['provident_fund'],
  tax: ['income'],
  vehicle: ['vehicle'],
  health: ['vital'],
  disabled_persons_federation: ['disability'],
  disabled_federation: ['disability'],
  veterans_affairs: ['veteran'],
  bank: ['financial_asset'],
  power_company: ['electricity'],
}
