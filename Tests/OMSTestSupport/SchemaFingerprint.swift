import PostgresNIO

extension PostgresClient {
    /// Every object of the public schema (relations, columns, constraints,
    /// indexes, functions, triggers, views) and the settings, as one text:
    /// equal texts mean equal schemas. The migration history table is left out.
    public func schemaFingerprint() async throws -> String {
        try await scalar(
            """
            SELECT string_agg(x, E'\n' ORDER BY x) FROM (
                SELECT format('rel %s %s', c.relname, c.relkind)
                  FROM pg_class c
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'oms_schema_migrations%'
                UNION ALL
                SELECT format('col %s.%s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                              a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
                  FROM pg_attribute a
                  JOIN pg_class c ON c.oid = a.attrelid
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
                   AND c.relname NOT LIKE 'oms_schema_migrations%'
                UNION ALL
                SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
                  FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace
                   AND conrelid::regclass::text <> 'oms_schema_migrations'
                UNION ALL
                SELECT format('idx %s', pg_get_indexdef(i.indexrelid))
                  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relname <> 'oms_schema_migrations'
                UNION ALL
                SELECT format('fn %s', pg_get_functiondef(p.oid))
                  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
                UNION ALL
                SELECT format('trg %s', pg_get_triggerdef(t.oid))
                  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                 WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
                UNION ALL
                SELECT format('view %s %s', viewname, definition) FROM pg_views WHERE schemaname = 'public'
                UNION ALL
                SELECT format('setting %s %s', key, value) FROM oms_settings
            ) AS objects(x)
            """,
            as: String.self)
    }
}
