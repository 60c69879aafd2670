"""The demo book's universe and the story's targets (NAV, MTD, the last week, the crash path)."""

from datetime import timezone
from zoneinfo import ZoneInfo

TZ = ZoneInfo("America/New_York")
UTC = timezone.utc
VAR_LIMIT95, VAR_LIMIT99 = 2_000_000.0, 3_000_000.0
TARGET_UTIL95 = 0.80          # VaR95 at 80 % of the limit: the warning band (70–90 %)
TARGET_NAV = 78_000_000.0     # NAV at the last session
PREV_MONTH_MTD = -0.036       # the previous calendar month ends at −3.6 %
CURRENT_MONTH_MTD = -0.010    # the current month, up to the last session
LAST_WEEK = [0.0021, -0.0018, 0.0034, 0.0012, -0.0055]  # daily returns of the last 5 sessions
# the last session's day_return path: (minutes after 09:30, day_return); worst −1.10 % at 11:45
CRASH_KNOTS = [(0, 0.0), (20, -0.0015), (45, -0.0040), (80, -0.0070), (105, -0.0092), (135, -0.0110),
               (165, -0.0098), (210, -0.0085), (270, -0.0072), (330, -0.0063), (390, -0.0055)]
N_INTRADAY_DAYS = 5
PRICE_PULL = 0.03             # daily mean reversion of log price toward the start price
FIVE_MIN_MARKS = 79           # 09:30 .. 16:00 every 5 minutes

# symbol, sector, name, strategy, target weight (fraction of NAV, signed), start price
UNIVERSE: list[tuple[str, str, str, str, float, float]] = [
    ("NVDA", "Technology", "NVIDIA Corp", "momentum", 0.175, 182.0),
    ("MSFT", "Technology", "Microsoft Corp", "momentum", 0.060, 376.0),
    ("AAPL", "Technology", "Apple Inc", "momentum", 0.055, 228.0),
    ("AVGO", "Technology", "Broadcom Inc", "momentum", 0.045, 338.0),
    ("AMZN", "Consumer Discretionary", "Amazon.com Inc", "momentum", 0.055, 219.0),
    ("TSLA", "Consumer Discretionary", "Tesla Inc", "momentum", 0.035, 289.0),
    ("META", "Communication Services", "Meta Platforms Inc", "momentum", 0.050, 398.0),
    ("GOOGL", "Communication Services", "Alphabet Inc", "momentum", 0.050, 171.0),
    ("JPM", "Financials", "JPMorgan Chase & Co", "momentum", 0.045, 244.0),
    ("GE", "Industrials", "GE Aerospace", "momentum", 0.040, 196.0),
    ("LLY", "Health Care", "Eli Lilly and Co", "momentum", 0.045, 398.0),
    ("COST", "Consumer Staples", "Costco Wholesale Corp", "momentum", 0.035, 388.0),
    ("XOM", "Energy", "Exxon Mobil Corp", "mean_reversion", 0.050, 112.0),
    ("CVX", "Energy", "Chevron Corp", "mean_reversion", -0.040, 151.0),
    ("PFE", "Health Care", "Pfizer Inc", "mean_reversion", 0.045, 26.5),
    ("MRK", "Health Care", "Merck & Co", "mean_reversion", -0.035, 98.0),
    ("KO", "Consumer Staples", "Coca-Cola Co", "mean_reversion", 0.040, 63.0),
    ("PG", "Consumer Staples", "Procter & Gamble Co", "mean_reversion", -0.030, 158.0),
    ("BAC", "Financials", "Bank of America Corp", "mean_reversion", 0.045, 41.0),
    ("INTC", "Technology", "Intel Corp", "mean_reversion", -0.030, 22.0),
    ("NEE", "Utilities", "NextEra Energy Inc", "mean_reversion", 0.040, 71.0),
    ("F", "Consumer Discretionary", "Ford Motor Co", "mean_reversion", -0.025, 14.2),
    ("GS", "Financials", "Goldman Sachs Group Inc", "stat_arb", 0.035, 352.0),
    ("MS", "Financials", "Morgan Stanley", "stat_arb", -0.035, 118.0),
    ("HD", "Consumer Discretionary", "Home Depot Inc", "stat_arb", 0.030, 372.0),
    ("LOW", "Consumer Discretionary", "Lowe's Companies Inc", "stat_arb", -0.030, 241.0),
    ("CAT", "Industrials", "Caterpillar Inc", "stat_arb", 0.030, 331.0),
    ("DE", "Industrials", "Deere & Co", "stat_arb", -0.030, 389.0),
    ("DUK", "Utilities", "Duke Energy Corp", "stat_arb", 0.030, 104.0),
    ("SO", "Utilities", "Southern Co", "stat_arb", -0.030, 84.0),
    ("T", "Communication Services", "AT&T Inc", "stat_arb", 0.030, 21.5),
    ("VZ", "Communication Services", "Verizon Communications", "stat_arb", -0.030, 41.5),
    ("COP", "Energy", "ConocoPhillips", "stat_arb", 0.030, 104.0),
    ("SLB", "Energy", "Schlumberger Ltd", "stat_arb", -0.030, 38.0),
    ("UNH", "Health Care", "UnitedHealth Group Inc", "stat_arb", 0.030, 305.0),
]
SECTOR_NAMES = sorted({u[1] for u in UNIVERSE})
