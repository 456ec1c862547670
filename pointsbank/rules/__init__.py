"""Rule books (YAML), the pure scoring engine, behaviour records, approval and objections."""
