-- API keys: who may call the HTTP API, and for what. The table oms_api_keys is
-- in ../versioned/0100_baseline.sql.
--
-- Every route but /health needs `Authorization: Bearer KEY`. A key carries
-- scopes:
--   ingest:scada, ingest:onu, ingest:kaifa, ingest:callcenter
--                 post that feed's events (a SCADA key cannot post KAIFA events)
--   read          the read API
--   operate       operator actions on outages (21_operator_actions.sql)
--   admin         everything, settings included
-- Keys are made by `oms keys create` (or oms_api_key_create() from psql): 32
-- random bytes from the operating system, written as "oms_" + 43 base64url
-- characters, shown once. The table keeps only the key's SHA-256 and its
-- first 12 characters (to recognise it in a list): a copy of the database
-- gives nobody a usable key. A plain hash is right for a random 256-bit key
-- (a password hash's deliberate slowness protects guessable secrets; this one
-- cannot be guessed), and it lets a request be checked by one index lookup.
-- Revoking keeps the row (who had access, until when).

-- Stores a key made by the caller. The key must be long enough to be unguessable
-- (at least 32 characters); unknown scopes are refused, naming them.
CREATE OR REPLACE FUNCTION oms_api_key_create(p_key text, p_scopes text[], p_name text DEFAULT '') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_known   text[] := ARRAY['ingest:scada', 'ingest:onu', 'ingest:kaifa', 'ingest:callcenter', 'read', 'operate',
                               'admin'];
    v_unknown text[];
    v_id      uuid;
BEGIN
    IF p_key IS NULL OR length(p_key) < 32 THEN
        RAISE EXCEPTION 'an API key must be at least 32 characters of random text'
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_key';
    END IF;
    IF p_scopes IS NULL OR cardinality(p_scopes) = 0 THEN
        RAISE EXCEPTION 'an API key needs at least one scope (%)', array_to_string(v_known, ', ')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_scopes';
    END IF;
    SELECT array_agg(s ORDER BY s) INTO v_unknown FROM unnest(p_scopes) s WHERE s <> ALL (v_known) OR s IS NULL;
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown scope %: the scopes are %', array_to_string(v_unknown, ', ', 'NULL'), array_to_string(v_known, ', ')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'p_scopes';
    END IF;
    INSERT INTO oms_api_keys (name, scopes, key_sha256, key_prefix)
    VALUES (coalesce(p_name, ''), ARRAY(SELECT DISTINCT s FROM unnest(p_scopes) s ORDER BY s),
            sha256(convert_to(p_key, 'UTF8')), left(p_key, 12))
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;
COMMENT ON FUNCTION oms_api_key_create(text, text[], text) IS
    'Stores an API key (its SHA-256 and first 12 characters) with its scopes; returns its id.';

-- The key's id, name and scopes, if it is a key in force; no row otherwise.
CREATE OR REPLACE FUNCTION oms_api_key_authenticate(p_key text)
RETURNS TABLE (key_id uuid, name text, scopes text[])
LANGUAGE sql STABLE AS $$
    SELECT k.id, k.name, k.scopes FROM oms_api_keys k
     WHERE k.key_sha256 = sha256(convert_to(p_key, 'UTF8')) AND k.revoked_at IS NULL
$$;
COMMENT ON FUNCTION oms_api_key_authenticate(text) IS
    'The key in force that p_key is (id, name, scopes), found by its SHA-256; no row for an unknown or revoked key.';

-- Revokes a key; false when there is no such key in force. The revocation is
-- announced on channel oms_events ({"type": "api_key.revoked", "key_id": ...},
-- at commit): every instance of the service forgets the key at once (each
-- remembers keys it has checked for up to a minute; see KeyCheck).
CREATE OR REPLACE FUNCTION oms_api_key_revoke(p_id uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oms_api_keys SET revoked_at = now() WHERE id = p_id AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('oms_events', json_build_object('type', 'api_key.revoked', 'key_id', p_id)::text);
    RETURN true;
END;
$$;
COMMENT ON FUNCTION oms_api_key_revoke(uuid) IS
    'Revokes the API key (requests with it get 401 from then on); false if no key in force has this id.';
