// The receipt the accept call answered, kept in memory for the print view of this tab (a
// reload rebuilds it from the application: the same receipt, with the clerk's account id).
import type { components } from '@/api/schema/intake'

export type Receipt = components['schemas']['ReceiptOut']

export const issuedReceipts = new Map<string, Receipt>()
