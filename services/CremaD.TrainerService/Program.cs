var builder = WebApplication.CreateBuilder(args);
builder.AddCremaDTrainerService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
