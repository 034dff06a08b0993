import PostgresNIO

/// One object of a database's schema, as the catalog describes it.
public struct SchemaObject: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// rel, col, con, idx, fn, trg, view, setting, row, comment
    public let kind: String
    /// The object's name (a column as table.column, a function by its name alone).
    public let name: String
    /// Its definition as the catalog prints it; function definitions without comments and
    /// with whitespace normalised (`SQLText.normalized`).
    public let definition: String

    public var description: String { "\(kind) \(name) \(definition)" }

    public static func < (lhs: SchemaObject, rhs: SchemaObject) -> Bool { lhs.description < rhs.description }
}

extension PostgresClient {
    /// Every object of the public schema (relations with their storage options, columns in
    /// their order, constraints, indexes, functions, triggers, views), the settings and the
    /// rows of the code tables; with `comments`, also every comment on them. The migration
    /// history tables (oms_schema_*) are left out. Equal lists mean equal schemas.
    public func schemaObjects(comments: Bool = false) async throws -> [SchemaObject] {
        let rows = try await query(
            """
            SELECT kind, name, definition FROM (
                SELECT 'rel', c.relname, format('%s %s', c.relkind, c.reloptions)
                  FROM pg_class c
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'oms_schema_%'
                UNION ALL
                SELECT 'col', c.relname || '.' || a.attname,
                       format('#%s %s %s %s', row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                              format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
                  FROM pg_attribute a
                  JOIN pg_class c ON c.oid = a.attrelid
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
                   AND c.relname NOT LIKE 'oms_schema_%'
                UNION ALL
                SELECT 'con', conrelid::regclass || ' ' || conname, pg_get_constraintdef(oid)
                  FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'oms_schema_%'
                UNION ALL
                SELECT 'idx', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'oms_schema_%'
                UNION ALL
                SELECT 'fn', p.proname, pg_get_functiondef(p.oid)
                  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
                UNION ALL
                SELECT 'trg', c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
                  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                 WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
                UNION ALL
                SELECT 'view', viewname, definition FROM pg_views WHERE schemaname = 'public'
                UNION ALL
                SELECT 'setting', key, (to_jsonb(s) - 'updated_at')::text FROM oms_settings s
                UNION ALL
                SELECT 'row', 'kaifa_event_types', to_jsonb(k)::text FROM kaifa_event_types k
                UNION ALL
                SELECT 'row', 'callcenter_trouble_codes', to_jsonb(t)::text FROM callcenter_trouble_codes t
                UNION ALL
                SELECT 'comment', coalesce(p.oid::regprocedure::text, c.relname || coalesce('.' || a.attname, ''),
                                           t.typname::text),
                       d.description
                  FROM pg_description d
                  LEFT JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid
                                     AND p.pronamespace = 'public'::regnamespace
                  LEFT JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
                                      AND c.relnamespace = 'public'::regnamespace
                  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
                  LEFT JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND t.oid = d.objoid
                                     AND t.typnamespace = 'public'::regnamespace
                 WHERE \(comments) AND coalesce(p.oid, c.oid, t.oid) IS NOT NULL
            ) AS objects(kind, name, definition)
            """,
            logger: TestDatabase.logger)
        var objects: [SchemaObject] = []
        for try await (kind, name, definition) in rows.decode((String, String, String?).self) {
            let text = definition ?? "NULL"
            objects.append(SchemaObject(kind: kind, name: name, definition: kind == "fn" ? SQLText.normalized(text) : text))
        }
        return objects.sorted()
    }

    /// `schemaObjects()` as one text: equal texts mean equal schemas.
    public func schemaFingerprint() async throws -> String {
        try await schemaObjects().map(\.description).joined(separator: "\n")
    }
}

/// SQL text compared by what it does: comments removed, whitespace only where two
/// words would otherwise run together; quoted strings and identifiers kept as they are.
public enum SQLText {
    public static func normalized(_ sql: String) -> String {
        let chars = Array(sql.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isWord(_ c: Unicode.Scalar?) -> Bool {
            guard let c else { return false }
            return c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_"
        }
        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-" && next == "-" {
                while i < chars.count && chars[i] != "\n" { i += 1 }
            } else if c == "/" && next == "*" {
                var depth = 0
                while i < chars.count {
                    if chars[i] == "/" && i + 1 < chars.count && chars[i + 1] == "*" { depth += 1; i += 2 }
                    else if chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/" {
                        depth -= 1; i += 2
                        if depth == 0 { break }
                    } else { i += 1 }
                }
            } else if c == "'" || c == "\"" {
                out.append(c)
                i += 1
                while i < chars.count {
                    out.append(chars[i])
                    if chars[i] == c {
                        if i + 1 < chars.count && chars[i + 1] == c { out.append(chars[i + 1]); i += 2; continue }
                        i += 1
                        break
                    }
                    i += 1
                }
            } else if c.properties.isWhitespace {
                while i < chars.count && chars[i].properties.isWhitespace { i += 1 }
                if isWord(out.last), isWord(i < chars.count ? chars[i] : nil) { out.append(" ") }
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(out)
    }
}
