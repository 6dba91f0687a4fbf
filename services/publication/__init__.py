"""Publication service: publicity notices, objections, disclosures, provincial push."""
