// The `oms` executable: every command lives in OMSCLI.
import ArgumentParser
import OMSCLI

@main
struct OMS: AsyncParsableCommand {
    static let configuration = OMSCommand.configuration

    static func main() async {
        await OMSCommand.runCommandLine()
    }
}
