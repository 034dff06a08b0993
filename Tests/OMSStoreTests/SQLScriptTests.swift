import OMSStore
import Testing

@Suite("Splitting SQL scripts into statements")
struct SQLScriptTests {
    @Test("semicolons inside strings, identifiers, comments and dollar bodies do not split")
    func quotedSemicolons() throws {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE "odd;name" (note text DEFAULT 'a;b', other text DEFAULT E'it\\'s; fine');
            /* block; /* nested; */ still comment; */
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1; RETURN 2;
            END;
            $$;
            CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;$$y' $body$;
            SELECT $1::int, a$b FROM t
            """
        let statements = try SQLScript.statements(in: script)
        #expect(statements.count == 4)
        #expect(statements.map(\.line) == [2, 4, 9, 10])
        #expect(statements[0].text.hasPrefix("-- a comment") || statements[0].text.hasPrefix("CREATE TABLE"))
        #expect(statements[1].text.contains("PERFORM 1; RETURN 2;"))
        #expect(statements[2].text.hasSuffix("$body$"))
        #expect(statements[3].text == "SELECT $1::int, a$b FROM t")
    }

    @Test("comment-only and empty pieces are dropped")
    func emptyPieces() throws {
        #expect(try SQLScript.statements(in: ";;\n-- nothing\n /* at all */ ;").isEmpty)
        #expect(try SQLScript.statements(in: "SELECT 1;;SELECT 2").map(\.text) == ["SELECT 1", "SELECT 2"])
    }

    @Test("an unterminated quote or body is an error naming where it opened")
    func unterminated() {
        #expect(throws: SQLScriptError(unterminated: "string", line: 2)) {
            try SQLScript.statements(in: "SELECT 1;\nSELECT 'open;\n")
        }
        #expect(throws: SQLScriptError(unterminated: "dollar-quoted string $fn$", line: 1)) {
            try SQLScript.statements(in: "CREATE FUNCTION f() AS $fn$ SELECT 1 $$;")
        }
        #expect(throws: SQLScriptError(unterminated: "block comment", line: 1)) {
            try SQLScript.statements(in: "/* /* */ SELECT 1")
        }
    }

    @Test("every bundled schema file splits cleanly")
    func bundledMigrationsSplit() throws {
        let files = try Migration.bundled().map { ($0.fileName, $0.sql) }
            + CurrentSchemaFile.bundled().map { ($0.fileName, $0.sql) }
        #expect(files.count >= 10)
        for (fileName, sql) in files {
            let statements = try SQLScript.statements(in: sql)
            #expect(!statements.isEmpty, "\(fileName) has no statements")
        }
    }
}
