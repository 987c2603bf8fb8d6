"""python -m data_bridge.pyloop: print what the engine was built as."""
import sys

from . import build_info


def main() -> None:
    info = build_info()
    width = max(len(key) for key in info)
    for key, value in info.items():
        print(f"{key.ljust(width)}  {value}")
    print(f"{'python'.ljust(width)}  {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
