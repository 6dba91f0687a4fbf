from services.verification.bootstrap import definition
from shared.service_main import main

main("verification", definition)
