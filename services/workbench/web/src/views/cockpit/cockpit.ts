// alerting's GET /cockpit: its answer is a free-form JSON object in the OpenAPI document, so
// its shape is written down here (services/alerting/queries.py `cockpit`).
import { alerting, unwrap } from '@/api/client'

export interface Counts {
  total: number
  open: number
  red_open: number
  yellow_open: number
  cleared: number
}
export interface UnitRow extends Counts {
  unit: string
  name: string | null
}
export interface RuleRow extends Counts {
  rule_id: string
  colour: 'red' | 'yellow'
  title: string
}
export interface CaseRow extends Counts {
  application_id: string
  tracking_no: string | null
}
export interface StageRow {
  stage: string
  level: string | null
  unit: string | null
  status: string
  started_at: string | null
  due_at: string | null
  completed_at: string | null
  working_days_used: number | null
  overdue: boolean | null
}
export interface CaseDetail {
  application: { application_id: string; tracking_no: string | null; street: string | null; status: string | null } | null
  stages: StageRow[]
  alerts: Array<{ alert_id: string; rule_id: string; colour: string; title: string; stage: string | null; status: string; raised_at: string }>
  tickets: Array<{ ticket_id: string; ticket_no: string; colour: string; rule_id: string; step: string; alert_ids: string[]; due_at: string | null; overdue: boolean }>
}
export interface Cockpit {
  scope: { unit: string; level: string; name: string | null }
  totals: Array<{ colour: string; status: string; count: number }>
  by_unit: UnitRow[]
  by_rule: RuleRow[]
  by_case: CaseRow[]
  tickets: { total: number; open: number; overdue: number; escalated: number; closed: number }
  case: CaseDetail | null
  admission_use_exit: Record<string, unknown> & {
    from?: string
    to?: string
    admission?: Record<string, number> | number
    use?: Record<string, number>
    exit?: Record<string, unknown>
  }
}

export interface CockpitQuery {
  unit?: string | null
  application_id?: string | null
  stage?: string | null
  rule_id?: string | null
  colour?: 'red' | 'yellow' | null
  status?: 'open' | 'cleared' | 'all'
}

export async function loadCockpit(query: CockpitQuery): Promise<Cockpit> {
  const data = await unwrap(alerting.GET('/cockpit', { params: { query } }))
  return data as unknown as Cockpit
}
