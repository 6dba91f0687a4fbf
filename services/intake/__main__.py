from services.intake.bootstrap import definition
from shared.service_main import main

main("intake", definition)
