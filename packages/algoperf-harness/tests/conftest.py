import sys
from pathlib import Path

# The fake submissions import `fakes` from this folder.
sys.path.insert(0, str(Path(__file__).parent))
