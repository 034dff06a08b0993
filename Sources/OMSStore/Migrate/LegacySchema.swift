/// The numbered migrations 0001–0031 that built the schema before issue 14 collapsed
/// them into `Schema/versioned/0100_baseline.sql`. A database they migrated records
/// exactly these files (version = position, with their SHA-256) in
/// `oms_schema_migrations`; `MigrationRunner` recognises it and records the baseline
/// as applied without running it. The files themselves are kept for the tests only
/// (`Tests/OMSStoreTests/LegacyMigrations/`, checked against this list).
public enum LegacySchema {
    /// The versioned file that stands for the whole legacy chain.
    public static let baselineVersion = 100

    /// The legacy files in version order (version n is `fileNames[n - 1]`) with the
    /// SHA-256 of each, as `oms migrate` recorded them.
    public static let files: [(fileName: String, checksum: String)] = [
        ("0001_foundation.sql", "5a9c7cc1702e32721f932337f4632d8fd281dd10a658a19918d2ee0ee5fff550"),
        ("0002_network_topology.sql", "4adc3c1aa6333b544d3ce342fe3bf58aba17b339753c34072f00bb99dcd3f394"),
        ("0003_meter_registry.sql", "17f3e16fdd32edc36dde538ba896f48992d09939d3d76af8f546441d4f24880a"),
        ("0004_meter_network_mappings.sql", "544c206937c44f57930af3b100ca880e581b7f086fc3c68b119b1669d947d2c7"),
        ("0005_meter_status_audit.sql", "e91298a74a8f944de2e2461092913d02d1476edd1fd1488f034ccb103d3f5fb2"),
        ("0006_outage_events.sql", "11bd8b695029f9a1cb382aa971937ef5d62f8b0fd296249de21845b9043d5948"),
        ("0007_feed_tables.sql", "5e413a55539f0a58ca46551ef332a13206d3820f0c8c3194293c2667539232bf"),
        ("0008_views.sql", "24b0c76acc4981e7be5ad1f5194681059c635b3dbdfb62e1d3a6e5457a749d42"),
        ("0009_validation.sql", "0d8b7836b644863bc6125cbc341837c10b64a31d9a4b766bd9a18e32312db259"),
        ("0010_meter_status_updates.sql", "a3bb6be772723590f5c8b049ca03f16973f58f258c814351d8c756f03ebb3464"),
        ("0011_outage_correlation.sql", "6528adc6674474f3caebe21ed9be321a6970f4df546608d8344d1076007be774"),
        ("0012_scada_meter_check.sql", "ce156d152924dc6b17183d10891036dc11f80d54251b4e243310e05954bba4dd"),
        ("0013_onu_feed.sql", "3d2fe4313e523fd0798b66264aebf1a5b189c339fd87856772705871a352a209"),
        ("0014_callcenter_feed.sql", "0f4961c4f8dab49763299ad395d39991e1d4bd237066bf4422169c874b09901b"),
        ("0015_kaifa_feed.sql", "f2262899b5bec44b6daa8d655e17cdf1e5766a846b1afde177951e532c92eff5"),
        ("0016_feed_batches.sql", "7b6913633dc53a67b8191a95a42a3d672efdaa9eddba4204fd22095357ed03df"),
        ("0017_single_write_batches.sql", "2802c42b9f052743d2b055402791f5eb2ecd295e02d12df54163e37ccd74cd01"),
        ("0018_indexed_outage_cover.sql", "d71dfb42cff2c1d02c2f048128fbfdd3f140a898e1d1e04f87e55c6145bf6c6d"),
        ("0019_proximity.sql", "00ebdc9effe70b0db5546ab06f9cc79be0a923a052c2f76572e37532712e3bd1"),
        ("0020_registry_migration.sql", "e10096c1dea5eaabee91288d533ab5d42c608e7a571bf89aa3d3fc9f9f6c4697"),
        ("0021_registry_import.sql", "04f4186bbb57b32936ffcf8adba88561b574c1a39f7fd83c608078ab66c9eb2d"),
        ("0022_registry_validation.sql", "acd08ac10da4f6d3660968b61e81e54a655e20972c22ae5e3e2d63f91a2390f0"),
        ("0023_import_initial_load.sql", "a4121300e8bde9ff534478456c0dba1b8b12be3d15c50043d936694a83b9169e"),
        ("0024_set_based_meter_inserts.sql", "dacb58183e641b895c21ae54b83c869148fda02cf6e9dfb248a3a473fbaabaf8"),
        ("0025_api_keys.sql", "61dce935ce53ab48324a7315eabfe114c6f6891628c80c9953848971ee73e9c9"),
        ("0026_meter_history_pages.sql", "8497818bab974a63f363b973c51b49e5eb2737eb30f80c5e0034cde6d8b21bb2"),
        ("0027_outage_reads.sql", "eee03bd369b96c4bdf80989d541b7cb02e29e949fed0311041ca328189e5964a"),
        ("0028_api_writes.sql", "6cb514d34b291426de6d35f55bf980d740d95094661435978c7729cea1216f91"),
        ("0029_live_events.sql", "e88382af55ae8fde8e1eec89e54d537c33003e5d08ee29d649f89c2657171871"),
        ("0030_link_trigger_set_difference.sql", "c1842d471b4516fbe1aec32129515bdfbf19ca51234639b3cb8241d6bd2cad46"),
        ("0031_plausible_input.sql", "f551bc52b40fe6c284478913ecf78e4525a646db93c77350a8e4e4c1beed8f50"),
    ]

    /// The legacy file names in version order.
    public static var fileNames: [String] { files.map(\.fileName) }

    /// The legacy file recorded under `version`, if that version is one.
    static func file(version: Int) -> (fileName: String, checksum: String)? {
        files.indices.contains(version - 1) ? files[version - 1] : nil
    }
}
