"""`python3 -m lab.peers.kasa --model hs100|hs110|hs300 --outlet NAME=ON ...`"""

from __future__ import annotations

from lab.peers import cli
from lab.peers.kasa import MODELS, KasaSimulator, install_simulator, simulator_installed
from lab.peers.outlets import PowerBoard


def main() -> None:
    parser = cli.parser("TP-Link Kasa plug or strip (tplink-smarthome-simulator)")
    parser.add_argument("--model", choices=MODELS, default="hs100")
    parser.add_argument("--device-id", default="8006ABCDEF0123456789ABCDEF0123456789ABCD")
    parser.add_argument("--install", action="store_true", help="npm install the simulator first if missing")
    args = parser.parse_args()
    if args.install and not simulator_installed():
        install_simulator()
    outlets = cli.outlets_from_args(args, ["plug"])
    cli.serve(KasaSimulator(PowerBoard(outlets), model=args.model, listen=args.listen, port=args.port, device_id=args.device_id))


if __name__ == "__main__":
    main()
