"""Everything that crosses to a system we do not own (national VXP axis, push endpoints)."""
