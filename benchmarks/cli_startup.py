"""Wall time of the command line's instant answers: `scivid --help`, `scivid --version`, an unknown task.

    python benchmarks/cli_startup.py [--repeat 5]

Each is a fresh process (as a user types it); prints the median wall time of `--repeat` runs and the
load average. Target: under 1 s each (the heavy libraries load only when a command runs).
"""
import argparse, os, statistics, subprocess, sys, time

CASES = [('scivid --help', ['--help']), ('scivid --version', ['--version']),
         ('scivid train --task flyvsfy (a typo)', ['train', '--task', 'flyvsfy'])]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--repeat', type=int, default=5)
    args = p.parse_args()
    cmd = [sys.executable, '-c', 'import sys; from scivid.cli import main; sys.exit(main())']
    for name, argv in CASES:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            subprocess.run(cmd + argv, capture_output=True)
            times.append(time.perf_counter() - t)
        print(f'{name:40s} {statistics.median(times) * 1e3:7.0f} ms (median of {args.repeat})')
    print(f'load average {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
