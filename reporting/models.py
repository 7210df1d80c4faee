# Decision documents, exports and follow-up live here (see the reporting issue).
