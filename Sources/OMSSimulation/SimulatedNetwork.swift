import Foundation

/// A synthetic utility for `oms simulate network`: substations spread over a region, feeders
/// radiating from each, distribution points along each feeder, meters around their
/// distribution point, one customer per meter. Deterministic: the same parameters and seed
/// give the same network, byte for byte.
public struct SimulatedNetwork: Sendable {
    /// What to generate.
    public struct Parameters: Codable, Sendable, Equatable {
        public var substations: Int
        public var feedersPerSubstation: Int
        public var dpsPerFeeder: Int
        public var meters: Int
        public var seed: UInt64
        /// Share of premises with a fiber ONU.
        public var onuShare: Double
        /// Share of ONUs that serve two neighbouring meters.
        public var sharedONUShare: Double
        /// Share of meters that are smart (KAIFA asset and usage-point mRIDs).
        public var smartShare: Double
        /// The region's centre.
        public var centerLatitude: Double
        public var centerLongitude: Double
        /// The number of the first substation (SS001 by default), and of the first meter, its
        /// customer and ONU (M10000001, C0000001, ONU-000001): networks generated with ranges that
        /// do not overlap can be imported into one registry.
        public var firstSubstation: Int
        public var firstMeter: Int

        public init(
            substations: Int = 5, feedersPerSubstation: Int = 6, dpsPerFeeder: Int = 20, meters: Int = 10_000,
            seed: UInt64 = 1, onuShare: Double = 0.6, sharedONUShare: Double = 0.05, smartShare: Double = 0.9,
            centerLatitude: Double = 24.71, centerLongitude: Double = 46.68, firstSubstation: Int = 1, firstMeter: Int = 1
        ) {
            self.substations = substations
            self.feedersPerSubstation = feedersPerSubstation
            self.dpsPerFeeder = dpsPerFeeder
            self.meters = meters
            self.seed = seed
            self.onuShare = onuShare
            self.sharedONUShare = sharedONUShare
            self.smartShare = smartShare
            self.centerLatitude = centerLatitude
            self.centerLongitude = centerLongitude
            self.firstSubstation = firstSubstation
            self.firstMeter = firstMeter
        }
    }

    /// A substation, feeder or distribution point.
    public struct Element: Sendable, Equatable {
        public var id: String
        public var parent: String?
        public var name: String
        public var latitude: Double
        public var longitude: Double
    }

    /// A customer and their meter.
    public struct Premise: Sendable, Equatable {
        public var meterNumber: String
        public var customerID: String
        public var customerName: String
        public var phone: String
        public var address: String
        public var dp: String
        public var latitude: Double
        public var longitude: Double
        public var assetMRID: String?
        public var usagePointMRID: String?
        public var onuID: String?
        public var onuSerial: String?
        public var meterType: String
    }

    public let parameters: Parameters
    public private(set) var substations: [Element] = []
    public private(set) var feeders: [Element] = []
    public private(set) var distributionPoints: [Element] = []
    public private(set) var premises: [Premise] = []

    /// Kilometres per degree of latitude.
    static let kmPerDegree = 111.2

    public init(_ parameters: Parameters) {
        self.parameters = parameters
        var random = SeededRandom(seed: parameters.seed)
        let p = parameters
        let cosLat = cos(p.centerLatitude * .pi / 180)
        func offset(_ lat: Double, _ lng: Double, km: Double, bearing: Double) -> (Double, Double) {
            (lat + km * cos(bearing) / Self.kmPerDegree, lng + km * sin(bearing) / (Self.kmPerDegree * cosLat))
        }
        // Substations over a disc sized so that each serves ~40 km² (a few km radius each).
        let regionRadius = max(2.0, (Double(p.substations) * 40 / Double.pi).squareRoot())
        for s in 0..<p.substations {
            let distance = regionRadius * Double.random(in: 0...1, using: &random).squareRoot()
            let (lat, lng) = offset(p.centerLatitude, p.centerLongitude, km: distance,
                                    bearing: Double.random(in: 0..<(2 * .pi), using: &random))
            let number = s + p.firstSubstation
            substations.append(Element(id: String(format: "SS%03d", number), parent: nil, name: "\(Names.place(number - 1)) substation",
                                       latitude: Self.round(lat), longitude: Self.round(lng)))
        }
        // Feeders radiate from their substation; DPs every ~250 m along them.
        for substation in substations {
            for f in 0..<p.feedersPerSubstation {
                let bearing = 2 * .pi * Double(f) / Double(p.feedersPerSubstation) + Double.random(in: -0.2...0.2, using: &random)
                let feederID = "\(substation.id)-FD\(String(format: "%02d", f + 1))"
                let (fLat, fLng) = offset(substation.latitude, substation.longitude, km: 0.15, bearing: bearing)
                feeders.append(Element(id: feederID, parent: substation.id, name: "\(substation.name.replacingOccurrences(of: " substation", with: "")) feeder \(f + 1)",
                                       latitude: Self.round(fLat), longitude: Self.round(fLng)))
                var along = 0.2
                var heading = bearing
                var (lat, lng) = (fLat, fLng)
                for d in 0..<p.dpsPerFeeder {
                    let step = 0.25 + Double.random(in: -0.05...0.05, using: &random)
                    heading += Double.random(in: -0.15...0.15, using: &random)
                    (lat, lng) = offset(lat, lng, km: step, bearing: heading)
                    along += step
                    distributionPoints.append(Element(id: "\(feederID)-DP\(String(format: "%03d", d + 1))", parent: feederID,
                                                      name: "DP \(d + 1) of \(feederID)", latitude: Self.round(lat), longitude: Self.round(lng)))
                }
            }
        }
        // Meters spread evenly over the DPs, within ~100 m of theirs; ONUs on a share, some shared by two.
        var onuCount = p.firstMeter - 1
        var sharedONU: (id: String, serial: String, dp: String)?
        for m in 0..<p.meters {
            let dp = distributionPoints[m * distributionPoints.count / max(p.meters, 1)]
            let (lat, lng) = offset(dp.latitude, dp.longitude, km: Double.random(in: 0.01...0.1, using: &random),
                                    bearing: Double.random(in: 0..<(2 * .pi), using: &random))
            let smart = Double.random(in: 0..<1, using: &random) < p.smartShare
            var onuID: String?
            var onuSerial: String?
            // A shared ONU serves two neighbours of one DP (one building): never across DPs.
            if let shared = sharedONU, shared.dp == dp.id {
                (onuID, onuSerial) = (shared.id, shared.serial)
                sharedONU = nil
            } else if Double.random(in: 0..<1, using: &random) < p.onuShare {
                onuCount += 1
                onuID = String(format: "ONU-%06d", onuCount)
                onuSerial = String(format: "HWTC%08X", UInt32(truncatingIfNeeded: random.next()))
                sharedONU = Double.random(in: 0..<1, using: &random) < p.sharedONUShare ? (onuID!, onuSerial!, dp.id) : nil
            }
            let index = p.firstMeter + m
            let number = String(format: "M%08d", 10_000_000 + index)
            premises.append(Premise(
                meterNumber: number, customerID: String(format: "C%07d", index), customerName: Names.person(&random),
                phone: String(format: "+9665%08d", Int.random(in: 0..<100_000_000, using: &random)),
                address: "\(Int.random(in: 1...399, using: &random)) \(Names.street(&random)), \(dp.id.prefix(5))",
                dp: dp.id, latitude: Self.round(lat), longitude: Self.round(lng),
                assetMRID: smart ? "KFA-\(number)" : nil, usagePointMRID: smart ? "UP-\(number)" : nil,
                onuID: onuID, onuSerial: onuSerial, meterType: smart ? "smart" : "legacy"))
        }
    }

    /// Coordinates to 6 decimals (~0.1 m): what the files carry, so that memory and files agree.
    static func round(_ value: Double) -> Double { (value * 1_000_000).rounded() / 1_000_000 }
}

/// Plausible names, drawn from short lists.
enum Names {
    static let places = ["Riverside", "Hilltop", "Al Malaz", "Olaya", "Al Nakheel", "Qurtubah", "Al Yasmin", "Hittin", "Al Rabwah", "Al Wurud"]
    static let given = ["Amal", "Badr", "Chen", "Dana", "Eman", "Fahad", "Ghada", "Hassan", "Iman", "Jamal", "Khalid", "Lina", "Majed", "Noura", "Omar", "Reem"]
    static let family = ["Al-Harbi", "Al-Qahtani", "Al-Otaibi", "Haddad", "Karim", "Nasser", "Saleh", "Zahrani"]
    static let streets = ["King Fahd Rd", "Olaya St", "Tahlia St", "Prince Sultan Rd", "Takhassusi St", "Al Urubah Rd", "Makkah Rd"]

    static func place(_ index: Int) -> String { index < places.count ? places[index] : "\(places[index % places.count]) \(index / places.count + 1)" }
    static func person(_ random: inout SeededRandom) -> String {
        "\(given[Int.random(in: 0..<given.count, using: &random)]) \(family[Int.random(in: 0..<family.count, using: &random)])"
    }
    static func street(_ random: inout SeededRandom) -> String { streets[Int.random(in: 0..<streets.count, using: &random)] }
}
