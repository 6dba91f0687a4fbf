from services.review.service import definition
from shared.service_main import main

main("review", definition)
