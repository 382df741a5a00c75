"""`python3 -m lab.peers.mpower --port N --ports 3 --credentials-file F` (password=, username=)"""

from __future__ import annotations

from lab.peers import cli
from lab.peers.mpower import MPowerPeer
from lab.peers.outlets import PowerBoard


def main() -> None:
    parser = cli.parser("Ubiquiti mPower-style SSH power device (real sshd, busybox-like shell)")
    parser.add_argument("--ports", type=int, default=3, help="relay count when no --outlet is given")
    args = parser.parse_args()
    outlets = cli.outlets_from_args(args, [str(n) for n in range(1, args.ports + 1)])
    credentials = cli.credentials_from_args(args)
    if "password" not in credentials:
        raise SystemExit("the mPower peer needs --credentials-file with password=")
    cli.serve(
        MPowerPeer(
            PowerBoard(outlets),
            password=credentials["password"],
            username=credentials.get("username", "ubnt"),
            listen=args.listen,
            port=args.port,
        )
    )


if __name__ == "__main__":
    main()
